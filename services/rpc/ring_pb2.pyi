from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineItem(_message.Message):
    __slots__ = ("sku", "quantity", "unit_price")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    unit_price: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("order_id", "customer_id", "customer_tier", "currency", "items")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    customer_id: int
    customer_tier: str
    currency: str
    items: _containers.RepeatedCompositeFieldContainer[LineItem]
    def __init__(self, order_id: _Optional[int] = ..., customer_id: _Optional[int] = ..., customer_tier: _Optional[str] = ..., currency: _Optional[str] = ..., items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ...) -> None: ...

class ReserveReply(_message.Message):
    __slots__ = ("reservation_id", "quote")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    quote: QuoteReply
    def __init__(self, reservation_id: _Optional[str] = ..., quote: _Optional[_Union[QuoteReply, _Mapping]] = ...) -> None: ...

class QuoteRequest(_message.Message):
    __slots__ = ("order_id", "customer_id", "customer_tier", "currency", "items")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    customer_id: int
    customer_tier: str
    currency: str
    items: _containers.RepeatedCompositeFieldContainer[LineItem]
    def __init__(self, order_id: _Optional[int] = ..., customer_id: _Optional[int] = ..., customer_tier: _Optional[str] = ..., currency: _Optional[str] = ..., items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ...) -> None: ...

class QuoteLine(_message.Message):
    __slots__ = ("sku", "quantity", "unit_price", "line_total")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LINE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    unit_price: str
    line_total: str
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ..., line_total: _Optional[str] = ...) -> None: ...

class QuoteReply(_message.Message):
    __slots__ = ("lines", "subtotal", "discount", "tax", "total", "currency", "customer_tier")
    LINES_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[QuoteLine]
    subtotal: str
    discount: str
    tax: str
    total: str
    currency: str
    customer_tier: str
    def __init__(self, lines: _Optional[_Iterable[_Union[QuoteLine, _Mapping]]] = ..., subtotal: _Optional[str] = ..., discount: _Optional[str] = ..., tax: _Optional[str] = ..., total: _Optional[str] = ..., currency: _Optional[str] = ..., customer_tier: _Optional[str] = ...) -> None: ...

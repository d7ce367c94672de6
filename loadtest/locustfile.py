"""Shoppers on service-a: browse, look up order history, check out, follow the order until fulfilled.

Every knob is a Locust option with a ``LOCUST_*`` variable: the usual ones
(``--host``/``LOCUST_HOST``, ``-u``, ``-r``, ``-t``) and these:

    --think-time / LOCUST_THINK_TIME   max seconds a shopper waits between actions (default 1.0)
    --shape / LOCUST_SHAPE             steady (default), ramp, or spike
    --customers / LOCUST_CUSTOMERS     customer ids used, 1..N (default 50, the seeded ones)
    --journey / LOCUST_JOURNEY         shop (default: browse, history, checkout) or rush (checkout only:
                                       a flash sale, the concurrency that closes the deadlock drill's cycle)
    --retries / LOCUST_RETRIES         times a shopper retries a checkout that failed with a 5xx or no
                                       answer, with the same Idempotency-Key (default 0; the soak uses 2)

Request names are stable (``POST /checkout``, ``GET /orders/<id>`` …): SLOs
in the scenario files refer to them.
"""

from __future__ import annotations

import math
import random
import uuid

from locust import FastHttpUser, LoadTestShape, events, task
from locust.exception import RescheduleTask

SKUS = [f"SKU-{n}" for n in range(1001, 1021)]
FOLLOW_UP_LOOKUPS = 5


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument(
        "--think-time",
        type=float,
        env_var="LOCUST_THINK_TIME",
        default=1.0,
        help="Max seconds a shopper waits between actions (uniform from 0).",
    )
    parser.add_argument(
        "--shape",
        choices=["steady", "ramp", "spike"],
        env_var="LOCUST_SHAPE",
        default="steady",
        help="steady: -u users throughout; ramp: 1 to -u over the run; spike: -u/4 with bursts to -u.",
    )
    parser.add_argument(
        "--customers", type=int, env_var="LOCUST_CUSTOMERS", default=50, help="Customer ids 1..N the shoppers use."
    )
    parser.add_argument(
        "--journey",
        choices=["shop", "rush"],
        env_var="LOCUST_JOURNEY",
        default="shop",
        help="shop: browse, history and checkout; rush: checkout only (a flash sale).",
    )
    parser.add_argument(
        "--retries",
        type=int,
        env_var="LOCUST_RETRIES",
        default=0,
        help="Retries of a checkout that failed with a 5xx or no answer, with the same Idempotency-Key.",
    )


class Shopper(FastHttpUser):
    """One shopper. Weights: mostly browsing, some history, a checkout every few actions."""

    network_timeout = 30.0
    connection_timeout = 5.0

    def wait_time(self):
        return random.uniform(0, self.environment.parsed_options.think_time)

    def on_start(self):
        options = self.environment.parsed_options
        self.customer = random.randint(1, max(1, options.customers))
        if options.journey == "rush":
            self.tasks = [Shopper.checkout]

    @task(5)
    def browse(self):
        self.client.get("/products", name="GET /products")
        self.client.get(f"/products/{random.choice(SKUS)}", name="GET /products/<sku>")

    @task(2)
    def history(self):
        self.client.get(f"/orders?customer={self.customer}&limit=10", name="GET /orders")

    @task(3)
    def checkout(self):
        items = [{"sku": sku, "quantity": random.randint(1, 3)} for sku in random.sample(SKUS, random.randint(1, 3))]
        key = f"locust-{uuid.uuid4()}"
        for attempt in range(1 + max(0, self.environment.parsed_options.retries)):
            if attempt:
                self.wait()  # a client backs off before it retries, with the same key: never a second order
            with self.client.post(
                "/checkout",
                json={"customer_id": self.customer, "items": items},
                headers={"Idempotency-Key": key},
                name="POST /checkout",
                catch_response=True,
            ) as response:
                if response.status_code in (200, 201):
                    order = response.json()
                    break
                response.failure(f"{response.status_code}: {_message(response)}")
                if 0 < response.status_code < 500:
                    raise RescheduleTask()  # the request itself is wrong: retrying cannot help
        else:
            raise RescheduleTask()
        if self.environment.parsed_options.journey == "rush":
            return
        for _ in range(FOLLOW_UP_LOOKUPS):  # the shopper refreshes the order page a few times
            self.wait()
            looked = self.client.get(f"/orders/{order['id']}", name="GET /orders/<id>")
            if looked.status_code == 200 and looked.json().get("status") == "fulfilled":
                break


def _message(response) -> str:
    try:
        return str(response.json().get("message", ""))[:120]
    except Exception:  # a timeout or a non-JSON body has no message to show
        return (response.error and str(response.error)[:120]) or ""


class LabShape(LoadTestShape):
    """The --shape option, using -u, -r and -t as the peak users, spawn rate and duration."""

    use_common_options = True

    def tick(self):
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if options.run_time and run_time >= options.run_time:
            return None
        users, rate = max(1, options.num_users or 1), options.spawn_rate or 1
        if options.shape == "ramp":
            span = options.run_time or 300
            return max(1, math.ceil(users * min(1.0, run_time / span))), rate
        if options.shape == "spike":
            in_burst = run_time % 60 >= 40  # 20 s of full load every minute
            return (users if in_burst else max(1, users // 4)), max(rate, users)
        return users, rate

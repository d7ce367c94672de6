"""The ring's gRPC contract (ring.proto) and its generated stubs."""

"""Load: Locust user journeys against service-a, and the runners that turn a run into numbers."""

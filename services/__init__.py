"""The data plane: the five services of the ring and the simulated payment gateway.

Each service is one folder whose name matches the component in
``chaoslab.topology`` and exposes ``main()``; ``chaoslab serve NAME`` runs it.
"""

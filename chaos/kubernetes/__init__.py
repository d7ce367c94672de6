"""The Kubernetes backend of the chaos controller (chaostoolkit-kubernetes style):
``targets`` finds the agents in a namespace and reaches them through the API server's pod proxy,
``actions`` changes the cluster (pod kill, scale to zero, NetworkPolicy partition, memory limits),
``probes`` only reads it, and ``reaper`` reverts what has outlived its TTL."""

"""The Kubernetes wing: a team's lab as a namespace on a cluster, behind chaoslab.backend's interface.

Every adapter of the Kubernetes target lives here: the backend (``backend``), the journals in the
team's ConfigMaps (``store``), the namespace's own Locust (``load``), the console's and the
diagnosis' inputs from the platform's Jaeger and Prometheus (``console``, ``jaeger``, ``diagnosis``),
Prometheus's firing alerts for the pager (``prometheus``) and the cohort's namespaces (``cohort``).
The fault provider (what changes and reads the cluster for a fault: actions, probes, agents, the API
client, the caller's identity) is ``chaoslab.chaos.kubernetes``, in chaostoolkit-kubernetes' shape.
"""

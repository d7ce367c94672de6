"""The Kubernetes fault provider (chaostoolkit-kubernetes style): ``agents`` finds the fault agents in a
namespace and reaches them through the API server's pod proxy, ``actions`` changes the cluster (pod
kill, scale to zero, NetworkPolicy partition, memory limits) and reverts what outlived its TTL,
``probes`` only reads it, ``client`` talks to the API server and ``identity`` says who is calling and
which team's namespace they may touch. The rest of the Kubernetes target is chaoslab.kubernetes."""

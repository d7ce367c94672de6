"""The control plane: the fault vocabulary, the agent every service embeds, the controller, the
scenario catalogue. Words used throughout: a *fault* changes the system (an action, in
chaostoolkit's terms), a *check* only reads it (a probe), the *SLO* is the steady state a fix must
restore, and a *revert* undoes a fault (rollback)."""

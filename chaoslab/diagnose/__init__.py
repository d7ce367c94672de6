"""The shadow on-call's diagnosis: ranked (service, fault kind) candidates with the evidence a trainee can
check, from what a trainee could read.

One module per concern: ``spans`` (span facts: own time, error origins, unanswered and re-entrant
calls), ``record`` (facts and 5-second frames over time), ``metrics`` (the services' series),
``robust`` (median/IQR baselines), ``measures`` (what is measured and when it is anomalous),
``reference`` (the healthy past a fault cannot absorb), ``evidence`` (now against the reference),
``signatures`` (the fault-kind table), ``rank`` (the symptom, the walk, the weighing, the confidence),
``report`` (text and the prompt for an AI assistant), ``shadow`` (running by itself during an
incident), ``ask`` (piping the prompt to an assistant of the user's choice). Its inputs on each
target are in the target's wing: chaoslab/local/diagnosis.py and chaoslab/kubernetes/diagnosis.py.

What it never reads: the fault agents, the audit log, the scenario note, the drill's baseline, the
answer key. tests/integration/test_diagnose.py runs it with those out of reach.
"""

DEFAULT_SINCE_S = 300.0
"""How far back ``chaoslab diagnose`` looks by default, and exactly what the shadow on-call looks at:
the answer it is credited with is one a trainee asking at that moment was shown."""

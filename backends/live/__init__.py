"""Live detection (`sigma-okta watch`): endless sources with resumable positions, checkpointed engine
state, and sinks that confirm delivery. The rules are compiled and evaluated by the engine
(``sigma.backends.okta.engine``); this package only feeds it, remembers where it was, and delivers.
"""

from .util import greeting


def greet() -> str:
    return greeting("world")

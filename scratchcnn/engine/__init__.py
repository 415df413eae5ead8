"""How a network's layers run: the execution plan, the passes that follow it, and the split across threads.

    plan.py     made once per network and input shape: for each layer, which engine computes
                it and what the fast engine arranged (cropping, ReLU after max pooling, scratch memory)
    passes.py   the forward and backward passes through the layers, following the plan
    threads.py  a training step's rows, or predict's pieces, spread over the threads

A layer never learns about its neighbours: whatever depends on them is decided here.
"""
from .passes import Passes
from .plan import ENGINES, Plan, check_engine

__all__ = ["ENGINES", "Passes", "Plan", "check_engine"]

"""The storm benchmark's harness: a rack-loss storm played in real time
through the embedded Vitrage engine, once with vitrage-selfheal deciding
and once with stock Vitrage's execute_mistral path, in the same process
kind, so the two can be compared as ratios."""

"""`make demo`: the stack, the four services and the seed story, step by step."""

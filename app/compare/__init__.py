"""The quant workbench: choose files, compare them (PPL, KLD, speed, memory), results, history,
same prompt.
"""

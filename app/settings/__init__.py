"""The right-hand panels: model picker, GPU layers, model info, sampling sliders, live metrics.
Imports app.engine, app.data, app.shell helpers.
"""

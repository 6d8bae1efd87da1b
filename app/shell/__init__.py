"""The window's frame: main window, pages and rail, wiring, banner, welcome, about, theme, shared
widget helpers, start-up. May import every app room.
"""

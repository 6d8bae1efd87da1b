"""How a transcript is painted: the list view, the message delegate, Markdown documents, cached
pixmaps, stream damage.
"""

"""What the app keeps: the SQLite conversation store (its errors, its
recovery when damaged), migrations, export, preferences and drafts.
No Qt widgets; imports inference only (no other app room).
"""

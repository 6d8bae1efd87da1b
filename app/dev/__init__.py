"""Development tooling, not the product: screenshots of the window's main states."""

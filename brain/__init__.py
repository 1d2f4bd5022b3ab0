"""The brain: understanding messages, choosing actions, and drafting text with local models."""

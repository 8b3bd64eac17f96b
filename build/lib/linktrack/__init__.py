"""linktrack: self-hosted link tracking for messages."""

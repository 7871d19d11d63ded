"""Real adapters: the ports implemented against the operating system, git, gh and agent CLIs."""

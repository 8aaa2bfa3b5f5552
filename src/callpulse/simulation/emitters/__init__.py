"""The simulator's events v1 written as each platform writes them (the inverse of
``callpulse.adapters``), so every scenario can be played through every adapter."""

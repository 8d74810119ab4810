"""Resource types of the garden API and their validation and defaulting; imports nothing of ours."""

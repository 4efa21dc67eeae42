"""Fleet planning (layer 5): from users and megawatts to systems, tokens and dollars."""

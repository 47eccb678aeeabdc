"""A plugin whose hooks module ends the program when imported."""

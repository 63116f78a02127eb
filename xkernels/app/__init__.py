"""Applications built on the library: the command line, the demo, the NEST LIF model.
Nothing in the library imports from here."""

"""Built-in variants. Each registers under the ``ganlab.variants`` entry-point group."""

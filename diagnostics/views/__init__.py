"""What checks derive from fetched facts and share: views of the mesh, not checks."""

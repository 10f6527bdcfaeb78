"""Published (N, D, loss) tables shipped with the project (provenance and licences: README.md
here); read them with `nblib.data.scaling_points`."""

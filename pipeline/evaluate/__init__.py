"""`guardstream eval`: labelled manifests (`manifest`), scoring through the stream's guard code (`run`), metrics
(`metrics`), the HTML report (`report`), calibration fitting (`fit`) and reviewer feedback (`feedback`)."""

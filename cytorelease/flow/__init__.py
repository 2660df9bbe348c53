"""Flow cytometry: FCS reading, compensation, transforms, gating, clustering, acquisition QC."""

"""``cytorelease reanalyse``: what a proposed template, assay or spec would have said about
every archived lot (change control's impact assessment), on a process pool or dask.distributed."""

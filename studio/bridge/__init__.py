"""The bridge to core's threads: the trainer, a followed run, sweeps, jobs and renders on QThreads; events become Qt signals."""

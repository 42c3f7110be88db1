"""The run: a validated recipe built into its parts (``build``), the LightningModule and data module, training
(``train``), the one Trainer factory, checkpoints and run directories, resilience, distributed plans, profiling
and reports.
"""

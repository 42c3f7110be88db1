"""The recurrent layer library (seqkit/rnn/): cells through the runner, kernels, options, regularisers, TBPTT,
interop."""

"""The recurrent layer library: the cell contract, the runner, kernels and their selection, the generic and
reference kernels, lengths, the layer options, initialisers, regularisers, TBPTT, torch.nn and Keras conversion.

It imports nothing of the recipe, run or command line, and never Lightning.
"""

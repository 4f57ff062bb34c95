"""The report's figures, each saved as PNG (for the HTML report) and SVG (for papers).

`common` holds what every figure shares; `headline` draws figures 1 and 5 (headline numbers),
`detail` 2-4 (learning curves, confusion matrices, sample images), `gap` 6 (the gap
decomposition's waterfall) and `compare` 7-9 (paired differences, reliability, accuracy on the
line). `make.make_figures` draws 1-6 into the analysis folder.
"""

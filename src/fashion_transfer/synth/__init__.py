"""FashionSynth: the suite's own garment data, written in Fashion-MNIST's and DeepFashion's formats.

Tests, CI and the offline demo need both domains of the study without downloads. FashionSynth
renders the same parametrised garment models (`shapes.py`) as a "studio" set (the ten
Fashion-MNIST classes, 28x28 gray, as the four idx files) and a "wild" set (15 real DeepFashion
categories as RGB photos with boxes, in the official folder and list-file layout), so the real
loaders read them with no special case.

Every image draws from its own seeded generator, so the files are byte-identical for a seed.
`SYNTH.json` (parameters + file hashes) is written last: a folder without it is incomplete.

    python -m fashion_transfer.synth --out data/FashionSynth [--seed 0] [--wild 3000]

Modules: `generate` (both domains, the manifest), `cli` (the command), `shapes`, `items` and
`drawing` (garment models as polygons), `fabric` (colours and patterns), `render` (studio and wild
images).
"""

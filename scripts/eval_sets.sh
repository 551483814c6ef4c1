# Sourced by the comparison scripts: the evaluation sets of docs/evaluation.md as `inharmony evaluate` arguments
# in the array `sets` (PHOTOS: the photo folder of the probes). ../shared/realdata joins when present (measured,
# never trained on), and so do the synthetic test sets data/synth_v2 and data/synth_v2_outline.
sets=(--data "swap=swap:$PHOTOS" --data "heldout=heldout:$PHOTOS" --data "skimage=authentic:skimage")
[ -f ../shared/realdata/manifest.csv ] && sets+=(--data "realdata=../shared/realdata/manifest.csv")
[ -d data/synth_v2 ] && sets+=(--data "synth=data/synth_v2")
[ -d data/synth_v2_outline ] && sets+=(--data "synth_outline=data/synth_v2_outline")
true

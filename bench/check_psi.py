"""The two `train check` numbers of one or more models over truncation psi; prints a Markdown table.

    python bench/check_psi.py checkpoints/chibi-64.pt
    python bench/check_psi.py checkpoints/chibi-64.pt runs/chibi-ft/model.pt --psi 0.7,1

Per model and psi: the nearest-data-set distance (mean and median over seeds 0-99, against
procedural data-set images 0-4999 at 32 px) and the Frechet distance on random-conv features (NOT
Inception FID) of seeds 0-999 against the same 5000 images, exactly as `waifu-morph train check`
computes them; the reference set is drawn once for all rows.
"""

from __future__ import annotations

import argparse

import torch

from interpolate.train.check import _small, generate, load_model, nearest_distances, reference_images
from interpolate.train.frechet import features, frechet_distance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--psi", default="0.7,0.8,0.9,1")
    ap.add_argument("--reference", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--fd-images", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref = reference_images(64, args.reference, 0)
    ref_small, ref_feat = _small(ref.images), features(ref.images)
    print("| model | psi | nearest mean | nearest median | Frechet |\n|---|---:|---:|---:|---:|")
    for path in args.models:
        G = load_model(path)[0]
        if ref.images.shape[1] != G.img_resolution:
            ref = reference_images(G.img_resolution, args.reference, 0)
            ref_small, ref_feat = _small(ref.images), features(ref.images)
        for psi in (float(p) for p in args.psi.split(",")):
            nn = nearest_distances("m", generate(G, range(args.seeds), psi), ref_small)
            fd = frechet_distance(features(generate(G, range(args.fd_images), psi)), ref_feat)
            print(f"| {path} | {psi:g} | {nn.mean:.2f} | {nn.median:.2f} | {fd:.3f} |", flush=True)


if __name__ == "__main__":
    main()

"""Epoch time of blockopt's TensorLoader versus a torchvision-style DataLoader, side by side.

The data are MNIST-shaped: 60,000 random 1x28x28 uint8 images with labels. The DataLoader path serves them
the way torchvision's MNIST does (a PIL image per sample, then `ToTensor`, then the default collate), with
`num_workers=0`; the TensorLoader path holds the same images as one float tensor in [0, 1] (converted once,
timed separately) and serves a batch as one `index_select`. Both shuffle and use batches of 128.

Run: `python bench/data_loading.py` (about 10-20 s). Threads: one torch thread by default (`--threads`),
so that the two paths are compared on equal terms on a shared machine; the ratio is what to read, not the
absolute times.
"""
import argparse, time
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import ToTensor
from blockopt.data import PixelCorruption, Split, TensorLoader, dataset_info
from _report import record


class PILImages(Dataset):
    "uint8 images served as PIL images through a per-sample transform, as torchvision's MNIST serves them."
    def __init__(self, images, labels, transform): self.images, self.labels, self.transform = images, labels, transform
    def __len__(self): return len(self.labels)
    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].numpy(), mode='L')
        return self.transform(img), int(self.labels[i])


def epoch_seconds(loader, epochs=1):
    "Mean wall time of iterating `loader` over `epochs` full epochs (touching every batch)."
    t0, n = time.perf_counter(), 0
    for _ in range(epochs):
        for xb, yb in loader: n += len(yb)
    return (time.perf_counter() - t0) / epochs, n // epochs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=60000, help='number of images')
    p.add_argument('--batch_size', type=int, default=128)
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--tensor_epochs', type=int, default=5, help='epochs averaged for the (fast) TensorLoader')
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.n, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.n,), generator=g)
    print(f"MNIST-shaped data: {args.n} x 1 x 28 x 28 uint8, batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch thread(s), CPU")

    t0 = time.perf_counter()
    split = Split(images.unsqueeze(1).float().div_(255), labels, 'train', dataset_info('mnist'))
    t_convert = time.perf_counter() - t0

    TensorLoader(split, args.batch_size, seed=1).next_batch()  # warm-up
    tensor_loader = TensorLoader(split, args.batch_size, shuffle=True, seed=0)
    t_tensor, n_tensor = epoch_seconds(tensor_loader, args.tensor_epochs)
    corrupt_loader = TensorLoader(split, args.batch_size, seed=0, transform=PixelCorruption(0.5))
    t_corrupt, _ = epoch_seconds(corrupt_loader, 1)

    data_loader = DataLoader(PILImages(images, labels, ToTensor()), batch_size=args.batch_size, shuffle=True,
                             num_workers=0, generator=torch.Generator().manual_seed(0))
    t_dl, n_dl = epoch_seconds(data_loader, 1)
    assert n_dl == n_tensor == args.n

    print(f"one-off conversion to a float tensor:         {t_convert * 1e3:8.1f} ms")
    print(f"TensorLoader epoch (mean of {args.tensor_epochs}):              {t_tensor * 1e3:8.1f} ms")
    print(f"TensorLoader + PixelCorruption(0.5) epoch:    {t_corrupt * 1e3:8.1f} ms")
    print(f"DataLoader (PIL + ToTensor, 0 workers) epoch: {t_dl * 1e3:8.1f} ms")
    print(f"ratio (DataLoader / TensorLoader): {t_dl / t_tensor:.1f}x")
    size = f"{args.n} MNIST-shaped images, batch {args.batch_size}, {torch.get_num_threads()} thread(s)"
    record(f"epoch, {size}", 'DataLoader (PIL + ToTensor, 0 workers)', t_dl * 1e3, 'TensorLoader', t_tensor * 1e3,
           'ms per epoch', note=f"one-off conversion to a float tensor {t_convert * 1e3:.1f} ms")
    record(f"epoch with PixelCorruption(0.5), {size}", 'TensorLoader + PixelCorruption(0.5)', t_corrupt * 1e3,
           'TensorLoader', t_tensor * 1e3, 'ms per epoch')


if __name__ == '__main__':
    main()

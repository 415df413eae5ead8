"""The mnist recipe at a large global batch: the learning rate scaled with the batch, warmed up, then cosine decay.

    mpiexec --bind-to none -n 2 python benchmarks/mnist_large_batch.py --batch-size 512 --epochs 12
    python benchmarks/mnist_large_batch.py --batch-size 512 --epochs 12 --one-process     # the same in one process

The recipe trains Adam at lr 1e-3 on batches of 64; at batch B the lr is 1e-3 * B / 64
(the linear scaling rule), reached after --warmup epochs of linear warm-up
(schedules.LinearWarmup), then decayed to 1 % by the end (schedules.CosineDecay). The
recipe's augmentation, validation split and seed. Prints each epoch, then the test
accuracy; process 0 writes the log and the model to --out.
"""
import argparse
import os
import time

from scratchcnn import losses
from scratchcnn.callbacks import LearningRateScheduler
from scratchcnn.experiments.recipes import RECIPES
from scratchcnn.schedules import CosineDecay, LinearWarmup


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2, help="epochs of linear warm-up (default 2)")
    parser.add_argument("--base-lr", type=float, default=1e-3, help="the recipe's lr at its batch of 64")
    parser.add_argument("--one-process", action="store_true",
                        help="train in this one process, without MPI (default: distributed over mpiexec's processes)")
    parser.add_argument("--out", default="runs/mnist-large-batch")
    args = parser.parse_args()
    recipe = RECIPES["mnist"]
    distributed = not args.one_process
    rank = 0
    if distributed:
        from scratchcnn.distributed import connect
        rank = connect(True).rank
    data = recipe.load(None, 0)
    network = recipe.build(data)
    lr = args.base_lr * args.batch_size / recipe.batch_size
    schedule = LinearWarmup(CosineDecay(lr, args.epochs, min_lr=lr / 100), args.warmup)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        print(f"mnist at batch {args.batch_size}: Adam, lr {lr:g} after {args.warmup} epochs of warm-up, cosine decay",
              flush=True)
    start = time.perf_counter()
    network.train(data.train_x, data.train_y, args.epochs, lr, *losses.get(recipe.loss),
                  log_file=os.path.join(args.out, "train_log.txt"), val_X=data.val_x, val_y=data.val_y,
                  batch_size=args.batch_size, optimizer="adam", seed=0, verbose=2, augment=recipe.augment,
                  callbacks=[LearningRateScheduler(schedule)], distributed=distributed)
    seconds = time.perf_counter() - start
    _, loss, accuracy = network.evaluate(data.test_x, data.test_y, losses.get(recipe.loss)[0], distributed=distributed)
    if rank == 0:
        network.save_model(os.path.join(args.out, "mnist.model"))
        print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}) after {seconds:.0f} s of training", flush=True)


if __name__ == "__main__":
    main()

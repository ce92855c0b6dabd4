"""Pictures in: datasets as uint8 arrays (torchvision sets, the bundled digits, image folders), the
memory-mapped picture cache, the batches a step draws, and k-means clusters for self-conditioning."""

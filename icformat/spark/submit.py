"""The icformat command line as a ``spark-submit`` application (a script, so absolute imports only)::

    spark-submit --master yarn "$(python -c 'import icformat.spark.submit as m; print(m.__file__)')" \\
        im2rec s3://bucket/train.lst s3://bucket/images/ -o s3://bucket/rec/train --num-shards 1400 --engine spark

``--engine spark`` then runs on spark-submit's master with its settings.
"""
import sys

from icformat.cli import main

if __name__ == "__main__":
    sys.exit(main())

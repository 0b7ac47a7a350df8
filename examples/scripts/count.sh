#!/bin/sh
# Counts from 1 to $1 (default 10), one number per line, a tenth of a second apart.
n=${1:-10}
i=1
while [ "$i" -le "$n" ]; do
  echo "$i"
  i=$((i + 1))
  sleep 0.1
done

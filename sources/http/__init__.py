"""HTTP for the aggregator: fetching within limits and deadlines, decompression with a size cap,
robots.txt, and the network rule applied where every connection is made. Knows no other room."""

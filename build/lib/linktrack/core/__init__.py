"""The pure core: the domain, tokens, URL rules, HTML scanning, compose, Liquid, bot
verdicts and rollup arithmetic. No HTTP, SQL or files: fast and unit-tested."""

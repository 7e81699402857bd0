from humanllm.cli import main

main()

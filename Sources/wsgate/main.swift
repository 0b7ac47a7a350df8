import WSGateCommand

await WSGateCommand.runMain()

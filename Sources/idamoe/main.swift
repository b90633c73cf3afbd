import IdaCLI

ensureBLASThreadTimeout()
IdamoeCommand.main()

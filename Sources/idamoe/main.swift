import IdaCLI

IdamoeCommand.main()

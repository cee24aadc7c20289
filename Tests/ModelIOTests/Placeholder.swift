// ModelIO tests follow
